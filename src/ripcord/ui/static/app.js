// ripcord dashboard: the little the pages need beyond HTML.
"use strict";

// The CSRF token every fetch() that changes something must send.
function csrfToken() {
  const m = document.querySelector('meta[name="csrf-token"]');
  return m ? m.content : "";
}

// POST with the CSRF header; resolves to the Response.
function post(url, body) {
  return fetch(url, {
    method: "POST",
    headers: { "X-CSRF-Token": csrfToken(), "Content-Type": "application/x-www-form-urlencoded" },
    body: body || "",
    credentials: "same-origin",
  });
}

// <form data-confirm="Really?"> asks before it is sent.
document.addEventListener("submit", (e) => {
  const msg = e.target.dataset ? e.target.dataset.confirm : undefined;
  if (msg && !window.confirm(msg)) e.preventDefault();
});

window.ripcord = { csrfToken, post };
