// Our one script: a separate file so the page's CSP needs no inline script.
// The document has no `servers`, so "Try it out" calls this page's own
// origin: the local stack under `cargo lambda watch`, or the deployed API.
window.ui = SwaggerUIBundle({
  url: "/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  displayOperationId: true,
  displayRequestDuration: true,
  persistAuthorization: false,
  tryItOutEnabled: false,
  validatorUrl: null,
});
