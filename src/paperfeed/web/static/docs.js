// The API docs page (/docs): Swagger UI over this server's OpenAPI document. No validator
// badge (it would ask validator.swagger.io about the document): nothing leaves this site.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
