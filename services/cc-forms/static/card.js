// The card form's script (served from cc-forms' origin; the CSP allows no
// inline script). The card fields are the gateway's iframe: this page never
// sees the number or the CVC. Steps: ask cc-forms for a setup intent, let the
// gateway confirm it with the card (stripe.confirmCardSetup), then tell
// cc-forms which setup intent succeeded so it stores the card on file.
(function () {
  'use strict';

  var form = document.getElementById('card-form');
  if (!form) return;
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
  var alertBox = document.getElementById('card-errors');
  var statusBox = document.getElementById('card-status');
  var button = document.getElementById('card-submit');
  var onFile = document.getElementById('card-on-file');
  var formTitle = document.getElementById('card-form-title');
  var mountPoint = document.getElementById('card-element');

  // The messages are rendered by the server (one table: src/domain/messages.ts).
  var messages = {};
  document.querySelectorAll('#card-messages [data-code]').forEach(function (li) {
    messages[li.getAttribute('data-code')] = li.textContent;
  });

  /** decline_code first, then code, then type; the table's fallback last. */
  function messageFor(error) {
    var keys = [error && error.decline_code, error && error.code, error && error.type];
    for (var i = 0; i < keys.length; i++) {
      if (keys[i] && Object.prototype.hasOwnProperty.call(messages, keys[i])) return messages[keys[i]];
    }
    return messages.fallback;
  }

  function showError(message, focusTarget) {
    statusBox.textContent = '';
    alertBox.textContent = message;
    if (focusTarget === 'alert') alertBox.focus();
  }

  /** Our own server's refusal, in the alert: a session that ended gets the page's words and link back. */
  function showRefusal(answer) {
    var error = answer.body && answer.body.error;
    var ended = document.getElementById('card-session-ended');
    if (!error || error.code !== 'session_ended' || !ended) {
      showError(serverMessage(answer), 'alert');
      return;
    }
    statusBox.textContent = '';
    alertBox.textContent = '';
    ended.childNodes.forEach(function (node) {
      alertBox.appendChild(node.cloneNode(true));
    });
    alertBox.focus();
  }

  function clearMessages() {
    alertBox.textContent = '';
    statusBox.textContent = '';
  }

  function setBusy(busy) {
    button.disabled = busy;
    form.setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  if (typeof window.Stripe !== 'function') {
    showError(messages.gateway_unavailable);
    button.disabled = true;
    return;
  }

  var stripe = window.Stripe(form.getAttribute('data-publishable-key'));
  var card = stripe.elements().create('card');
  mountPoint.textContent = '';
  card.mount(mountPoint);

  var fields = { complete: false, empty: true, error: undefined };
  card.on('change', function (event) {
    fields = event;
    // A problem the customer just fixed disappears at once; new ones wait for "Save card".
    if (!event.error && alertBox.textContent) alertBox.textContent = '';
  });

  /** POST JSON to cc-forms with the CSRF token; resolves { ok, status, body }. */
  function post(path, data) {
    return fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify(data),
    }).then(
      function (res) {
        return res.json().then(
          function (body) {
            return { ok: res.ok, status: res.status, body: body };
          },
          function () {
            return { ok: false, status: res.status, body: {} };
          },
        );
      },
      function () {
        return { ok: false, status: 0, body: { error: { code: 'api_connection_error' } } };
      },
    );
  }

  /** Our own server's refusal: its message if it sent one. */
  function serverMessage(answer) {
    var error = answer.body && answer.body.error;
    return (error && error.message) || messageFor(error);
  }

  function showSaved(saved) {
    onFile.querySelector('[data-card-summary]').textContent = saved.summary;
    onFile.querySelector('[data-card-expiry]').textContent = 'expires ' + saved.expires;
    formTitle.textContent = 'Replace your card';
    card.clear();
    statusBox.textContent = 'Card saved: ' + saved.summary + ' is now your card on file.';
    onFile.focus();
  }

  var busy = false;
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    if (busy) return;
    clearMessages();
    if (fields.error || !fields.complete) {
      showError(messageFor(fields.error || { code: fields.empty ? 'incomplete_number' : 'fallback' }));
      card.focus();
      return;
    }
    busy = true;
    setBusy(true);
    statusBox.textContent = 'Checking your card…';
    var done = function () {
      busy = false;
      setBusy(false);
    };
    post('/card/setup-intents', {})
      .then(function (started) {
        if (!started.ok) {
          showRefusal(started);
          return;
        }
        return stripe.confirmCardSetup(started.body.client_secret, { payment_method: { card: card } }).then(function (result) {
          if (result.error) {
            showError(messageFor(result.error));
            card.focus();
            return;
          }
          return post('/card', { setup_intent: result.setupIntent.id }).then(function (finished) {
            if (!finished.ok) {
              showRefusal(finished);
              return;
            }
            showSaved(finished.body.card);
          });
        });
      })
      .catch(function () {
        showError(messages.fallback, 'alert');
      })
      .then(done);
  });
})();
