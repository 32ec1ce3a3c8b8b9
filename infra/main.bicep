// Everything the Teams functions bundle needs in one resource group:
// az deployment group create -g <rg> -f infra/main.bicep -p infra/main.parameters.json -p appName=<name>

targetScope = 'resourceGroup'

@description('Function app name: globally unique, becomes https://<appName>.azurewebsites.net.')
@minLength(2)
@maxLength(40)
param appName string

@description('Azure region; it must offer the Flex Consumption plan.')
param location string = resourceGroup().location

@description('Storage account name: 3-24 lowercase letters and digits, globally unique.')
@minLength(3)
@maxLength(24)
param storageAccountName string = take('st${toLower(replace(appName, '-', ''))}${uniqueString(resourceGroup().id)}', 24)

@description('Storage replication.')
param storageSku string = 'Standard_LRS'

@description('Instances kept warm for the HTTP functions (outgoing webhook replies must beat 5 s).')
@minValue(1)
param alwaysReadyHttpInstances int = 1

@description('Upper bound of instances.')
param maximumInstanceCount int = 40

@description('NCRONTAB of the digest timer (seconds first).')
param digestSchedule string = '0 */5 * * * *'

@description('Prefix of every table name, to share one account between several installs.')
param tablePrefix string = 'tc'

@description('Extra delivery destinations besides the Workflows hosts (comma-separated URL prefixes); keep empty in Azure.')
param deliveryExtraAllowedUrls string = ''

@description('Also require an Entra ID sign-in (App Service Authentication) before the channel configuration page; needs configureAuthClientId. Off by default: the bot\'s signed one-time links are the page\'s access control.')
param configurePageAuthentication bool = false

@description('Client id of the Entra app registration for App Service Authentication (only with configurePageAuthentication).')
param configureAuthClientId string = ''

@description('HMAC key of the configuration page\'s links and sessions; empty: the app makes one and keeps it in its tables.')
@secure()
param configureSigningKey string = ''

param tags object = {
  app: 'teams-connect-functions'
}

var deploymentContainerName = 'app-package'
// The Functions host's blob containers (AzureWebJobsStorage): locks and timer state, and function keys.
var hostContainerNames = [
  'azure-webjobs-hosts'
  'azure-webjobs-secrets'
]

// Our own settings: the same names as local.settings.example.json (a test checks that they agree).
var appSettings = {
  TABLE_PREFIX: tablePrefix
  STORE_TIMEOUT_SECONDS: '3'
  // The host buffers bodies up to this before Python sees them: just above our 1 MiB limit.
  FUNCTIONS_REQUEST_BODY_SIZE_LIMIT: '1114112'
  PUBLIC_BASE_URL: 'https://${appName}.azurewebsites.net'
  // The configuration page (issue 15): its origin, and the key of its links (empty: kept in the tables).
  CONFIGURE_BASE_URL: 'https://${appName}.azurewebsites.net'
  CONFIGURE_SIGNING_KEY: configureSigningKey
  DELIVERY_EXTRA_ALLOWED_URLS: deliveryExtraAllowedUrls
  DELIVERY_TIMEOUT_SECONDS: '10'
  DELIVERY_MAX_ATTEMPTS: '8'
  DELIVERY_MAX_AGE_SECONDS: '86400'
  DELIVERY_MARGIN_BYTES: '2048'
  DELIVERY_BUDGET_SECONDS: '8'
  DELIVERY_INLINE_ATTEMPTS: '3'
  DELIVERY_MAX_THREADS: '8'
  DELIVERY_BUDGET_WORKFLOWS: '25/300'
  DELIVERY_SWEEP_SECONDS: '25'
  DELIVERY_RATE_WORKFLOWS: ''
  DELIVERY_RATE_LEGACY: '4/1,60/30,100/3600,150/7200,1800/86400'
  OUTGOING_REPLAY_WINDOW_SECONDS: '300'
  OUTGOING_DEADLINE_SECONDS: '4'
  OUTGOING_TEAM_CACHE_SECONDS: '30'
  DIGEST_SCHEDULE: digestSchedule
  DIGEST_BUDGET_SECONDS: '120'
  DIGEST_CONCURRENCY: '8'
  DIGEST_MAX_PER_RUN: '2000'
  RETENTION_DELIVERY_LOG_DAYS: '30'
  RETENTION_EXPIRED_KEYS_HOURS: '168'
  RETENTION_EVENTS_DAYS: '30'
  RETENTION_PURGE_PER_RUN: '1000'
  FEEDS_ALLOW_LOOPBACK: 'false'
  FEEDS_TIMEOUT_SECONDS: '10'
  FEEDS_MAX_BYTES: '2097152'
  FEEDS_MAX_REDIRECTS: '3'
  WEATHER_UNITS: 'metric'
  OPEN_METEO_FORECAST_URL: 'https://api.open-meteo.com/v1/forecast'
  OPEN_METEO_GEOCODING_URL: 'https://geocoding-api.open-meteo.com/v1/search'
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    baseName: appName
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    name: storageAccountName
    deploymentContainerName: deploymentContainerName
    hostContainerNames: hostContainerNames
    skuName: storageSku
    tags: tags
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    appName: appName
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    hostContainerNames: hostContainerNames
    appInsightsName: monitoring.outputs.appInsightsName
    appInsightsConnectionString: monitoring.outputs.connectionString
    appSettings: appSettings
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    maximumInstanceCount: maximumInstanceCount
    configurePageAuthentication: configurePageAuthentication
    configureAuthClientId: configureAuthClientId
    tags: tags
  }
}

output appName string = functionApp.outputs.name
output storageAccountName string = storage.outputs.name
output tableServiceUri string = storage.outputs.tableEndpoint
output outgoingWebhookUrl string = 'https://${functionApp.outputs.defaultHostName}/api/outgoing/<team>'
output configurePageUrl string = 'https://${functionApp.outputs.defaultHostName}/api/configure/'
output incomingProxyUrl string = 'https://${functionApp.outputs.defaultHostName}/api/incoming/<route>'
