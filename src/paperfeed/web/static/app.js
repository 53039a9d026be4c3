// Enhancements only: every page works without this script.
// Upvote buttons update in place instead of reloading the page.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-upvote")) return;
  event.preventDefault();
  const response = await fetch(form.action, {
    method: "POST",
    body: new FormData(form),
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  });
  if (response.status === 401) {
    window.location.href = "/signin?next=" + encodeURIComponent(window.location.pathname);
    return;
  }
  if (!response.ok) {
    form.submit();
    return;
  }
  const state = await response.json();
  const button = form.querySelector("button");
  form.querySelector("input[name=up]").value = state.voted ? "0" : "1";
  form.querySelector(".count").textContent = String(state.upvotes);
  button.setAttribute("aria-pressed", state.voted ? "true" : "false");
  button.setAttribute("aria-label", (state.voted ? "Remove upvote" : "Upvote") + " (" + state.upvotes + " upvotes)");
});
