// The /docs page: Swagger UI (its bundle served by the service itself, from the pinned
// openapi-ui-bundles package) rendering the service's own OpenAPI document. A file, not an
// inline script, so the page's Content-Security-Policy can say script-src 'self'.
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    tryItOutEnabled: false,
    validatorUrl: null, // no badge fetched from another origin
  });
});
