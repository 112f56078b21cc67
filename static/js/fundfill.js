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

    // Live figures for a page left open. The HTML already carries figures at most a few
    // seconds old (the page cache re-renders every PAGE_CACHE_SECONDS), so nothing is fetched
    // on load: while the tab is visible, one shared and cached JSON answer every 15 seconds.
    var LIVE_EVERY_MS = 15000;
    var bars = document.querySelectorAll(".progress[data-fund]");
    if (bars.length && window.fetch) {
        var ids = [];
        bars.forEach(function (bar) {
            if (ids.indexOf(bar.dataset.fund) === -1) { ids.push(bar.dataset.fund); }
        });
        var refresh = function () {
            if (document.hidden) { return; }
            fetch("/funds/live.json?ids=" + ids.join(","), { credentials: "omit" })
                .then(function (response) { return response.ok ? response.json() : null; })
                .then(function (data) {
                    if (!data) { return; }
                    bars.forEach(function (bar) {
                        var fund = data.funds[bar.dataset.fund];
                        if (!fund) { return; }
                        bar.querySelector("[role=progressbar]").setAttribute("aria-valuenow", fund.progress_percent);
                        bar.querySelector(".progress__fill").style.width = fund.progress_percent + "%";
                        bar.querySelector(".progress__pledged").textContent = fund.pledged;
                        bar.querySelector(".progress__backers").textContent = fund.backers;
                    });
                })
                .catch(function () { /* keep the figures we have */ });
        };
        window.setInterval(refresh, LIVE_EVERY_MS);
    }
})();
