"""In-app notifications service: domain, storage and API layers behind app.py."""
