// Starts Swagger UI on /docs (a file, not an inline script: the pages' CSP admits no inline script).
"use strict";
window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});
