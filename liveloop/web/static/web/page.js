// Small behaviours the pages used to write inline (onclick, onfocus): here, so the
// Content-Security-Policy can forbid inline script.
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) window.print();
});
document.addEventListener("focusin", function (event) {
  if (event.target.matches("[data-select-on-focus]")) event.target.select();
});
