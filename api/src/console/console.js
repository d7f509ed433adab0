// The GraphQL console: posts the operation as JSON to /graphql (same origin, the browser's
// session cookies) and shows the answer. No script from another origin.
"use strict";
document.getElementById("console").addEventListener("submit", async (event) => {
  event.preventDefault();
  const answer = document.getElementById("answer");
  let variables;
  try {
    variables = JSON.parse(document.getElementById("variables").value || "{}");
  } catch (error) {
    answer.textContent = "The variables are not JSON: " + error.message;
    return;
  }
  const query = document.getElementById("query").value;
  try {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    try {
      answer.textContent = JSON.stringify(JSON.parse(text), null, 2);
    } catch (_) {
      answer.textContent = "HTTP " + response.status + "\n" + text;
    }
  } catch (error) {
    answer.textContent = "The request failed: " + error.message;
  }
});
