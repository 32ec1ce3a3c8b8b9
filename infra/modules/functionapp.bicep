// The function app on the Flex Consumption plan, its identity and the roles that identity needs.

@description('Azure region of the resources.')
param location string

@description('Function app name; also the first label of its host name.')
param appName string

@description('Name of the storage account created by storage.bicep.')
param storageAccountName string

@description('Blob container of the deployment package.')
param deploymentContainerName string

@description('Blob containers the Functions host keeps its state in (made by storage.bicep).')
param hostContainerNames array

@description('Name of the Application Insights component created by monitoring.bicep.')
param appInsightsName string

@description('Connection string of Application Insights (not a secret: it carries no key usable without Entra ID).')
param appInsightsConnectionString string

@description('Our own app settings, name to value (see main.bicep).')
param appSettings object

@description('Instances kept warm for the HTTP functions: Teams gives the outgoing webhook 5 seconds, a cold start can take longer.')
@minValue(1)
param alwaysReadyHttpInstances int = 1

@description('Upper bound of instances, which also bounds the cost.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

param tags object = {}

@description('Put the whole app except the Teams and sender endpoints behind App Service Authentication (Entra ID sign-in), so the configuration page also needs a tenant account. Off by default: the page is reached with a one-time link the bot signs.')
param configurePageAuthentication bool = false

@description('Client id of the Entra app registration App Service Authentication signs people in with (only used when configurePageAuthentication is true).')
param configureAuthClientId string = ''

@description('Tenant whose accounts may sign in to the configuration page.')
param configureAuthTenantId string = tenant().tenantId

var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource hostContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [for name in hostContainerNames: {
  parent: blobService
  name: name
}]

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: deploymentContainerName
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225:Zone redundancy multiplies the always-ready cost; enable it on the plan for production tenants that need it.
  name: 'plan-${appName}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

var platformSettings = {
  // Identity-based connection of the Functions host: no key anywhere.
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  // Identity-based connection of our tables (DefaultAzureCredential picks up the managed identity).
  TEAMS_STORAGE__tableServiceUri: storage.properties.primaryEndpoints.table
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
}

var allSettings = union(platformSettings, appSettings)

resource site 'Microsoft.Web/sites@2024-04-01' = {
  //checkov:skip=CKV_AZURE_17:Teams and webhook senders cannot present client certificates; each endpoint authenticates its callers (HMAC, sender secrets).
  //checkov:skip=CKV_AZURE_222:Teams, Alertmanager, GitHub and Azure DevOps call the app from the internet; public access is the product.
  //checkov:skip=CKV_AZURE_213:There is no health endpoint to probe on Flex Consumption without keeping extra instances; Application Insights availability tests cover it.
  //checkov:skip=CKV_AZURE_212:Flex Consumption keeps instances by functionAppConfig.scaleAndConcurrency.alwaysReady (at least one here), which the check does not read.
  //checkov:skip=CKV_AZURE_78:Flex Consumption has no FTP endpoint and refuses siteConfig.ftpsState (the deployment fails with it), so FTP is off by construction.
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      // No ftpsState: Flex Consumption has no FTP and rejects the property ("for Flex Consumption sites is invalid").
      http20Enabled: true
      remoteDebuggingEnabled: false
      appSettings: [for setting in items(allSettings): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: [
          {
            name: 'http'
            instanceCount: alwaysReadyHttpInstances
          }
        ]
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// The host keeps its locks, timer state and keys in two containers of its own: the owner role on
// those only, not on the account (which would let the app rewrite any blob, its package included).
resource hostBlobRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (name, i) in hostContainerNames: {
  name: guid(hostContainers[i].id, site.id, storageBlobDataOwner)
  scope: hostContainers[i]
  properties: {
    principalId: site.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
  }
}]

// Flex Consumption reads the package with the app's identity and one-deploy writes it with the same
// identity, so this container needs read and write (contributor, not owner); nothing else does.
resource packageBlobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deploymentContainer.id, site.id, storageBlobDataContributor)
  scope: deploymentContainer
  properties: {
    principalId: site.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
  }
}

// Queues only for the host's own bookkeeping: scoped to the queue service, not the account.
resource queueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queueService.id, site.id, storageQueueDataContributor)
  scope: queueService
  properties: {
    principalId: site.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
  }
}

// Our data (teams, channels, routes, subscriptions, outbox...): scoped to the table service.
resource tableRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(tableService.id, site.id, storageTableDataContributor)
  scope: tableService
  properties: {
    principalId: site.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
  }
}

// Telemetry with Entra ID, since the component refuses its instrumentation key.
resource telemetryRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, site.id, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    principalId: site.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}

// Optional (configurePageAuthentication): people sign in with Entra ID before the page; Teams' outgoing
// webhook and the incoming senders cannot sign in, so their paths stay anonymous (they authenticate
// each request themselves: HMAC, route secrets). The page's own link and session checks stay on.
resource authentication 'Microsoft.Web/sites/config@2024-04-01' = if (configurePageAuthentication) {
  //checkov:skip=CKV_AZURE_13:This resource is the site's authsettingsV2 config, not a site; checkov reads it as one, and the site's own checks run on the site resource above.
  //checkov:skip=CKV_AZURE_63:This resource is the site's authsettingsV2 config, not a site; checkov reads it as one, and the site's own checks run on the site resource above.
  //checkov:skip=CKV_AZURE_65:This resource is the site's authsettingsV2 config, not a site; checkov reads it as one, and the site's own checks run on the site resource above.
  //checkov:skip=CKV_AZURE_66:This resource is the site's authsettingsV2 config, not a site; checkov reads it as one, and the site's own checks run on the site resource above.
  //checkov:skip=CKV_AZURE_80:This resource is the site's authsettingsV2 config, not a site; checkov reads it as one, and the site's own checks run on the site resource above.
  //checkov:skip=CKV_AZURE_88:This resource is the site's authsettingsV2 config, not a site; checkov reads it as one, and the site's own checks run on the site resource above.
  //checkov:skip=CKV_AZURE_222:This resource is the site's authsettingsV2 config, not a site; checkov reads it as one, and the site's own checks run on the site resource above.
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: [
        '/api/outgoing/*'
        '/api/incoming/*'
      ]
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: configureAuthClientId
          openIdIssuer: 'https://login.microsoftonline.com/${configureAuthTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${configureAuthClientId}'
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
output principalId string = site.identity.principalId
