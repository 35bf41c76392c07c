"""The staff console: a local web application in French where the mairie's staff improve the bot.

`store` keeps accounts, sessions and the audit log in the journal database;
`auth` hashes passwords and guards logins; `workspace` holds the draft, the
published versions and the reload of the running service; `sheets_edit`
edits answer sheets without losing their comments; `pages` are the Flask
views; `app` builds the application and serves it with waitress.
"""
