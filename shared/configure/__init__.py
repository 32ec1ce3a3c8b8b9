"""The channel's configuration page (issue 15): what Office 365 connectors had, without an app
registration.

A person asks the bot (`@Connector configure`, or the button on `help` and `status`) and gets a
signed link for this channel and themselves (`tokens`); the page spends it once for a one-hour
session cookie and then shows the channel and changes its digests and its Workflows link through
`shared.actions`, the same actions as the bot's commands.

- `app`: the routes under /api/configure/ (`handle`), sessions, CSRF, headers (CSP);
- `forms`: bounded form parsing and the subscription form's fields;
- `lookups`: next runs, "did you mean" places, the preview card;
- `view`: Jinja2 (autoescape) templates in templates/, static files in static/ (vendor/ is the
  renderer copied from node_modules at build time: `python -m tools.configure_assets`).
"""
