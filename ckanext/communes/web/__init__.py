"""The web guards, in the shared base: what every request and action call passes through before a room
reads it (CSRF scope, query parameters, API bodies, uncaught errors, the shape of dataset actions)."""
