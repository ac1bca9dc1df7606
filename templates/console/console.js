/* The console's only script: the list's filter and the wx_type switch. */
(function () {
	"use strict";

	/* Filter the component list as the operator types. */
	var q = document.getElementById("q");
	var table = document.getElementById("components");
	if (q && table) {
		var apply = function () {
			var s = q.value.trim().toLowerCase();
			table.querySelectorAll("tbody tr").forEach(function (tr) {
				var hay = (tr.dataset.name + " " +
				    tr.dataset.tenant).toLowerCase();
				tr.classList.toggle("hidden",
				    s !== "" && hay.indexOf(s) === -1);
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
})();
