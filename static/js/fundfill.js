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

// --- Proposal preview (start a fund, edit a proposal) ---------------------------------------------
// Fills the card in #proposal-preview from #proposal-form as the creator types. The server never
// reads the preview: without this script the card stays hidden and the form works the same.
(function () {
    "use strict";

    var form = document.getElementById("proposal-form");
    var preview = document.getElementById("proposal-preview");
    if (!form || !preview) { return; }

    var slot = function (name) { return preview.querySelector("[data-preview=" + name + "]"); };
    var value = function (name) {
        var input = form.elements.namedItem(name);
        return input && input.value ? input.value.trim() : "";
    };
    var show = function (name, text) {
        var el = slot(name);
        if (el) { el.textContent = text || el.dataset.empty || ""; }
    };
    // "$1,000.50" as the server would read it (bounties.money.parse_dollars); anything else as typed.
    var dollars = function (text) {
        var raw = text.replace(/^\$/, "").replace(/,/g, "");
        if (!/^[0-9]*(\.[0-9]{0,2})?$/.test(raw) || raw === "" || raw === ".") { return text; }
        var cents = Math.round(parseFloat(raw) * 100);
        var whole = Math.floor(cents / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
        var part = cents % 100;
        return "$" + whole + (part ? "." + (part < 10 ? "0" : "") + part : "");
    };
    var when = function (text) {
        var date = text ? new Date(text) : null;  // datetime-local: the reader's own clock
        if (!date || isNaN(date.getTime())) { return text; }
        return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    };
    var imageUrl = null;

    var update = function () {
        show("title", value("title"));
        show("summary", value("summary"));
        show("acceptance_criteria", value("acceptance_criteria"));
        show("goal", value("goal") ? dollars(value("goal")) : "");
        show("pledge_deadline", when(value("pledge_deadline")));
        var file = form.elements.namedItem("image");
        var img = slot("image");
        if (img && file && file.files) {
            if (imageUrl) { URL.revokeObjectURL(imageUrl); imageUrl = null; }
            if (file.files.length && window.URL && URL.createObjectURL) {
                imageUrl = URL.createObjectURL(file.files[0]);
                img.src = imageUrl;
                img.hidden = false;
            } else if (img.dataset.initial) {
                img.src = img.dataset.initial;  // the image the proposal already has
                img.hidden = false;
            } else {
                img.removeAttribute("src");
                img.hidden = true;
            }
        }
    };

    form.addEventListener("input", update);
    form.addEventListener("change", update);
    preview.hidden = false;
    update();
})();
// --- End of proposal preview ------------------------------------------------------------------

// --- Receipts and funnel: the pledge button says what it will do ------------------------------------
// On the pledge form ([data-pledge-funnel]) the button reads "Pledge $25 from your wallet" or, when the
// wallet is short, "Pledge $25 · pay $15 by card" and the form then sends pay_by_card (the card pledge,
// which charges only the difference). Without this script the server's text for ?amount= stands, and
// the server still refuses a short wallet in words and offers the card.
(function () {
    "use strict";

    var form = document.querySelector("form[data-pledge-funnel]");
    if (!form) { return; }
    var input = form.elements.namedItem("amount");
    var card = form.querySelector("[data-funnel-card]");
    var button = form.querySelector(".pledge-form__submit");
    var how = form.querySelector(".pledge-form__how");
    if (!input || !card || !button) { return; }
    var balance = parseInt(form.dataset.balanceCents, 10) || 0;
    var minimum = parseInt(form.dataset.minCardCents, 10) || 0;
    var symbol = form.dataset.currencySymbol || "$";

    // Cents for "25", "25.50", "$1,000" (as bounties.money.parse_dollars reads them), else null.
    var cents = function (text) {
        var raw = (text || "").trim().replace(/^\$/, "").replace(/,(?=\d{3}(\D|$))/g, "");
        if (!/^[0-9]+(\.[0-9]{1,2})?$/.test(raw)) { return null; }
        var value = Math.round(parseFloat(raw) * 100);
        return value > 0 ? value : null;
    };
    var money = function (value) {
        var whole = Math.floor(value / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
        var part = value % 100;
        return symbol + whole + (part ? "." + (part < 10 ? "0" : "") + part : "");
    };

    var update = function () {
        if (form.dataset.submitted === "true") { return; }  // "Working…" stays until the page changes
        var amount = cents(input.value);
        var short = amount === null ? 0 : Math.max(amount - balance, 0);
        if (short) { short = Math.max(short, minimum); }
        var byCard = short > 0 || (amount === null && balance === 0);
        card.disabled = !byCard;
        if (amount === null) {
            button.textContent = byCard ? "Pledge · pay by card" : "Pledge from your wallet";
        } else if (short) {
            button.textContent = "Pledge " + money(amount) + " · pay " + money(short) + " by card";
        } else {
            button.textContent = "Pledge " + money(amount) + " from your wallet";
        }
        if (how) {
            how.textContent = byCard
                ? "You pay the difference by card on the next page; your pledge is made as soon as the payment lands."
                : "The money moves from your wallet into the fund's escrow.";
        }
    };
    input.addEventListener("input", update);
    update();
})();
// --- End of receipts and funnel -----------------------------------------------------------------

// --- Fund page: copy buttons, spoken progress ------------------------------------------------------
// Copy buttons ([data-copy]) stay hidden without a clipboard: the link and the snippets beside them
// can be selected by hand. The live figures above move a progress bar's aria-valuenow; its spoken
// text and the page's "% funded" follow (that figure may pass 100; the bar's stops there).
(function () {
    "use strict";

    if (navigator.clipboard && window.isSecureContext) {
        document.querySelectorAll("button[data-copy]").forEach(function (button) {
            var label = button.textContent;
            button.hidden = false;
            button.addEventListener("click", function () {
                navigator.clipboard.writeText(button.dataset.copy).then(function () {
                    button.textContent = "Copied";
                    window.setTimeout(function () { button.textContent = label; }, 2000);
                }, function () { /* nothing copied: the text is still there to select */ });
            });
        });
    }

    if (!window.MutationObserver) { return; }
    document.querySelectorAll(".progress[data-fund] [role=progressbar][data-goal]").forEach(function (bar) {
        var fund = bar.closest(".progress").dataset.fund;
        new MutationObserver(function () {
            var percent = Number(bar.getAttribute("aria-valuenow"));
            if (percent >= 100) { return; }  // the page's own figure may be past 100: keep it
            bar.setAttribute("aria-valuetext", percent + " % of " + bar.dataset.goal);
            document.querySelectorAll(".fund__percent[data-fund='" + fund + "']").forEach(function (el) {
                el.textContent = percent + " %";
            });
        }).observe(bar, { attributes: true, attributeFilter: ["aria-valuenow"] });
    });
})();
// --- End of fund page: copy buttons, spoken progress -----------------------------------------------
