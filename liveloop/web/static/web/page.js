// Small behaviours the pages used to write inline (onclick, onfocus): here, so the
// Content-Security-Policy can forbid inline script.
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) window.print();
});
document.addEventListener("focusin", function (event) {
  if (event.target.matches("[data-select-on-focus]")) event.target.select();
});
// A plain (non-htmx) form that needs a second thought, as hx-confirm asks on htmx forms.
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) event.preventDefault();
});
