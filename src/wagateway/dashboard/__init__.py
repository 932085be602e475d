"""Dashboard Mantap!: the operators' control plane (server-rendered pages, a little JS).

The browser never holds an app token: every action runs on the server, through the same
services the REST API uses, on behalf of the logged-in operator."""
