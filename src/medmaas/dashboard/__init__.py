"""The web dashboard: a page and its scripts, served by the API process itself.

No build step and no external resources: plain ES modules and CSS under ``static/``, which talk
to the same REST API as every other client. The API key is held in the page's memory only (never
in web storage or a cookie), so closing or reloading the tab signs out.
"""
