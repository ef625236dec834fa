// Copy buttons: the pull command to the clipboard. Pages work without this.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button.copy");
  if (!button) return;
  const text = button.dataset.copy || "";
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const field = document.getElementById("pull-command");
    if (field) { field.select(); document.execCommand("copy"); }
  }
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy"; }, 2000);
});
