"""The web entrypoint: the app factory (`app.create_app`), routes, templates, static files and catalogs."""
