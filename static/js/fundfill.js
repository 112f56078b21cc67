/* Fundfill: small progressive enhancements; every page works without this file. */
(function () {
    "use strict";

    // A form marked data-once disables its submit button on the first submit, so a
    // double click sends one request (the server's idempotency key is the real guard).
    document.addEventListener("submit", function (event) {
        var form = event.target;
        if (!form.matches("form[data-once]")) { return; }
        if (form.dataset.submitted === "true") { event.preventDefault(); return; }
        form.dataset.submitted = "true";
        form.querySelectorAll("button[type=submit]").forEach(function (button) {
            button.disabled = true;
            button.dataset.label = button.textContent;
            button.textContent = "Working…";
        });
    });
})();
