// The authenticate-and-pay page's script (served from cc-forms' origin; the
// CSP allows no inline script). Asks cc-forms for the invoice's PaymentIntent
// client secret and card, then lets the gateway's JS confirm it on-session
// (stripe.confirmCardPayment), which shows the bank's 3-D Secure check.
(function () {
  'use strict';

  var form = document.getElementById('pay-form');
  if (!form) return;
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
  var alertBox = document.getElementById('pay-errors');
  var statusBox = document.getElementById('pay-status');
  var button = document.getElementById('pay-submit');
  var intentId = form.getAttribute('data-payment-intent');

  var MESSAGES = {
    payment_intent_authentication_failure:
      'The check with your bank was not completed, so nothing was charged. You can try again, or put another card on file.',
    card_declined: 'Your card was declined, so nothing was charged. You can try again, or put another card on file.',
    api_connection_error: 'We could not reach the payment gateway. Check your connection and try again.',
    // Already paid (another tab, or the charge went through before): never "nothing was charged".
    payment_intent_unexpected_state: 'This invoice is already paid or being paid: your invoice shows it in a moment.',
    processing: 'Your bank is still processing the payment: your invoice shows the result in a moment. Do not pay again.',
    fallback: 'The payment did not go through, and nothing was charged. Please try again in a moment.',
  };

  function showError(message) {
    statusBox.textContent = '';
    alertBox.textContent = message;
    alertBox.focus();
  }

  function setBusy(busy) {
    button.disabled = busy;
    form.setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  if (typeof window.Stripe !== 'function') {
    showError('This page could not load the payment gateway. Please reload the page, or try again later.');
    button.disabled = true;
    return;
  }
  var stripe = window.Stripe(form.getAttribute('data-publishable-key'));

  function start() {
    return fetch('/payments/' + encodeURIComponent(intentId) + '/start', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: '{}',
    }).then(function (res) {
      return res.json().then(
        function (body) {
          return { ok: res.ok, body: body };
        },
        function () {
          return { ok: false, body: {} };
        },
      );
    });
  }

  var busy = false;
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    if (busy) return;
    busy = true;
    setBusy(true);
    alertBox.textContent = '';
    statusBox.textContent = 'Opening the check with your bank…';
    start()
      .then(function (answer) {
        if (!answer.ok) {
          var error = answer.body && answer.body.error;
          var ended = document.getElementById('pay-session-ended');
          if (error && error.code === 'session_ended' && ended) {
            // The page's words and link back (a sign-in link works only once).
            showError('');
            ended.childNodes.forEach(function (node) {
              alertBox.appendChild(node.cloneNode(true));
            });
            return;
          }
          showError((error && error.message) || MESSAGES.fallback);
          return;
        }
        return stripe.confirmCardPayment(answer.body.client_secret, { payment_method: answer.body.payment_method }).then(function (result) {
          if (result.error) {
            showError(MESSAGES[result.error.code] || MESSAGES[result.error.decline_code] || MESSAGES.fallback);
            return;
          }
          if (result.paymentIntent && result.paymentIntent.status === 'succeeded') {
            form.querySelector('#pay-submit').hidden = true;
            statusBox.textContent = 'Paid: thank you. Your invoice shows it as paid in a moment.';
            statusBox.setAttribute('data-paid', '');
            statusBox.focus();
            return;
          }
          showError(result.paymentIntent && result.paymentIntent.status === 'processing' ? MESSAGES.processing : MESSAGES.fallback);
        });
      })
      .catch(function () {
        showError(MESSAGES.api_connection_error);
      })
      .then(function () {
        busy = false;
        setBusy(false);
      });
  });
})();
