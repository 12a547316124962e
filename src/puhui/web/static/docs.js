// Start Swagger UI on /openapi.json (a file, not an inline script, to keep the CSP strict).
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
});
