// The customers' re-test page (/r/...): while a re-test runs, follow its
// status endpoint and show the result without a reload. No login, no library;
// a file of its own because the page's Content-Security-Policy allows no inline script.
(function () {
	var s = document.getElementById('status'), f = document.getElementById('ask');
	if (!s || s.getAttribute('data-poll') !== '1')
		return;
	function tick() {
		fetch(location.pathname.replace(/\/$/, '') + '/status', {cache: 'no-store'})
			.then(function (r) { return r.json(); })
			.then(function (j) {
				s.textContent = j.message || '';
				s.className = j.state;
				if (j.can_request && f)
					f.hidden = false;
				if (j.state === 'running')
					setTimeout(tick, 5000);
			})
			.catch(function () { setTimeout(tick, 15000); });
	}
	setTimeout(tick, 5000);
})();
