/*
 * The console's only script: the list's filter, the wx_type switch and
 * the Templates page's live preview.
 */
(function () {
	"use strict";

	/* Filter the component list as the operator types. */
	var q = document.getElementById("q");
	var table = document.getElementById("components");
	if (q && table) {
		var apply = function () {
			/* Every word in the system (CMSI), tenant or name. */
			var words = q.value.trim().toLowerCase().split(/\s+/);
			table.querySelectorAll("tbody tr").forEach(function (tr) {
				var hay = (tr.dataset.system + " " +
				    tr.dataset.name + " " +
				    tr.dataset.tenant).toLowerCase();
				tr.classList.toggle("hidden", !words.every(
				    function (w) {
					return hay.indexOf(w) !== -1;
				}));
			});
		};
		q.addEventListener("input", apply);
		apply();
	}

	/* wx_type picks WeCom (qy, qywx) or Official Account (mp) fields. */
	var sw = document.querySelector("select[data-switch]");
	if (sw) {
		var show = function () {
			var v = sw.value === "mp" ? "mp" : "qy";
			document.querySelectorAll(".field[data-group]")
			    .forEach(function (f) {
				f.classList.toggle("hidden",
				    f.dataset.group !== v);
			});
		};
		sw.addEventListener("change", show);
		show();
	}

	/*
	 * Templates: the server renders the text as the operator types
	 * (debounced).  Its JSON answer says whether it parses (the error
	 * names the line) and is shown with textContent only; the rendering
	 * itself goes to the sandboxed iframe through the Preview button's
	 * own form submission, so nothing it holds runs on this page.
	 */
	var tf = document.getElementById("tmpl");
	if (tf && window.fetch && window.URLSearchParams && tf.requestSubmit) {
		var text = document.getElementById("text");
		var sample = document.getElementById("sample");
		var status = document.getElementById("status");
		var btn = document.getElementById("preview-btn");
		var problem = document.getElementById("problem");
		var timer = null, seq = 0;
		var run = function () {
			var my = ++seq;
			var body = new URLSearchParams(new FormData(tf));
			body.set("as", "json");
			fetch(tf.dataset.preview, { method: "POST", body: body,
			    credentials: "same-origin" }).then(function (r) {
				return r.json();
			}).then(function (o) {
				if (my !== seq)
					return;
				text.classList.toggle("invalid", !o.ok);
				if (!o.ok) {
					status.className = "status bad";
					status.textContent = status.dataset.error +
					    " " + o.error;
					return;
				}
				/* The last save's parse error is history now. */
				if (problem)
					problem.classList.add("hidden");
				status.className = "status" +
				    (o.warning ? " warn" : "");
				status.textContent = status.dataset.rendered +
				    " " + o.ms.toFixed(2) + " ms" +
				    (o.warning ? " \u00b7 " + o.warning : "");
				tf.requestSubmit(btn);
			}).catch(function (e) {
				status.className = "status bad";
				status.textContent = String(e);
			});
		};
		var later = function () {
			clearTimeout(timer);
			timer = setTimeout(run, 250);
		};
		text.addEventListener("input", later);
		sample.addEventListener("input", later);
		run();
	}
})();
