"""The web application's static assets (HTML, JS modules, CSS), served by `gigafactory ui`; no build step."""
