// The card fields' iframe (GET /elements/card): runs on the gateway's origin,
// so the number and CVC typed here go only to this origin's API. The parent
// page (the card form, whose configured origin is in data-parent-origin, and
// the only one the CSP lets frame us) hears only: ready, focus/blur,
// change {complete, empty, brand, error}, and each confirmation's result.
(function () {
  'use strict';

  var SOURCE = 'vault-elements';
  var body = document.body;
  var KEY = body.dataset.key;
  var PARENT = body.dataset.parentOrigin;
  var number = document.getElementById('card-number');
  var expiry = document.getElementById('card-expiry');
  var cvc = document.getElementById('card-cvc');

  // The origin the page claims must be the one that framed us (where the browser says).
  var ancestors = window.location.ancestorOrigins;
  var framedBy = ancestors && ancestors.length > 0 ? ancestors[0] : PARENT;
  if (window.parent === window || framedBy !== PARENT) {
    body.classList.add('refused');
    [number, expiry, cvc].forEach(function (input) {
      input.disabled = true;
    });
    return;
  }

  function send(type, payload) {
    window.parent.postMessage(Object.assign({ source: SOURCE, type: type }, payload), PARENT);
  }

  // --- reading and checking the fields -------------------------------------

  var digitsOf = function (text) {
    return text.replace(/\D/g, '');
  };

  function brandOf(digits) {
    if (/^4/.test(digits)) return 'visa';
    if (/^(5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720))/.test(digits)) return 'mastercard';
    if (/^3[47]/.test(digits)) return 'amex';
    if (/^(6011|65|64[4-9])/.test(digits)) return 'discover';
    return 'unknown';
  }

  function numberLength(brand) {
    return brand === 'amex' ? 15 : 16;
  }

  function luhnValid(digits) {
    var sum = 0;
    for (var i = 0; i < digits.length; i++) {
      var d = Number(digits[digits.length - 1 - i]);
      if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      sum += d;
    }
    return digits.length > 0 && sum % 10 === 0;
  }

  function readExpiry() {
    var d = digitsOf(expiry.value);
    return { month: Number(d.slice(0, 2)), year: d.length === 4 ? 2000 + Number(d.slice(2, 4)) : NaN, digits: d };
  }

  /**
   * The first problem of the fields, as Stripe.js words it; undefined when
   * there is none. While typing (`final` false) an unfinished field is no problem.
   */
  function problem(final) {
    var n = digitsOf(number.value);
    var brand = brandOf(n);
    if (n.length < numberLength(brand)) {
      if (final) return { code: 'incomplete_number', message: 'Your card number is incomplete.' };
    } else if (!luhnValid(n)) {
      return { code: 'invalid_number', message: 'Your card number is invalid.' };
    }
    var e = readExpiry();
    if (e.digits.length >= 2 && (e.month < 1 || e.month > 12)) {
      return { code: 'invalid_expiry_month', message: "Your card's expiration date is invalid." };
    }
    if (e.digits.length < 4) {
      if (final) return { code: 'incomplete_expiry', message: "Your card's expiration date is incomplete." };
    } else {
      var now = new Date();
      if (e.year < now.getFullYear() || (e.year === now.getFullYear() && e.month < now.getMonth() + 1)) {
        return { code: 'invalid_expiry_year_past', message: "Your card's expiration date is in the past." };
      }
    }
    if (digitsOf(cvc.value).length < (brand === 'amex' ? 4 : 3)) {
      if (final) return { code: 'incomplete_cvc', message: "Your card's security code is incomplete." };
    }
    return undefined;
  }

  function complete() {
    return problem(true) === undefined;
  }

  // --- formatting as the customer types ------------------------------------

  function formatNumber() {
    var n = digitsOf(number.value).slice(0, 19);
    var groups = brandOf(n) === 'amex' ? [4, 6, 5] : [4, 4, 4, 4, 3];
    var parts = [];
    var at = 0;
    for (var i = 0; i < groups.length && at < n.length; i++) {
      parts.push(n.slice(at, at + groups[i]));
      at += groups[i];
    }
    number.value = parts.join(' ');
  }

  function formatExpiry(event) {
    var d = digitsOf(expiry.value).slice(0, 4);
    // A single digit above 1 can only be a month: "4" → "04".
    if (d.length === 1 && Number(d) > 1) d = '0' + d;
    var deleting = event && event.inputType && event.inputType.indexOf('delete') === 0;
    expiry.value = d.length > 2 || (d.length === 2 && !deleting) ? d.slice(0, 2) + ' / ' + d.slice(2) : d;
  }

  function formatCvc() {
    cvc.value = digitsOf(cvc.value).slice(0, 4);
  }

  function changed() {
    var p = problem(false);
    [number, expiry, cvc].forEach(function (input) {
      input.setAttribute('aria-invalid', 'false');
    });
    if (p) fieldFor(p.code).setAttribute('aria-invalid', 'true');
    send('change', {
      complete: complete(),
      empty: !number.value && !expiry.value && !cvc.value,
      brand: brandOf(digitsOf(number.value)),
      error: p ? { code: p.code, message: p.message } : undefined,
    });
  }

  function fieldFor(code) {
    if (/number/.test(code)) return number;
    if (/expiry/.test(code)) return expiry;
    return cvc;
  }

  number.addEventListener('input', function () {
    formatNumber();
    changed();
  });
  expiry.addEventListener('input', function (event) {
    formatExpiry(event);
    changed();
  });
  cvc.addEventListener('input', function () {
    formatCvc();
    changed();
  });
  [number, expiry, cvc].forEach(function (input) {
    input.addEventListener('focus', function () {
      send('focus', {});
    });
    input.addEventListener('blur', function () {
      send('blur', {});
    });
  });
  document.getElementById('card').addEventListener('submit', function (event) {
    event.preventDefault();
  });

  // --- the gateway's API, on this origin -----------------------------------

  /** `billing_details[address][city]=…` from nested objects, as the API expects. */
  function flatten(prefix, value, out) {
    if (value === null || value === undefined) return out;
    if (typeof value === 'object') {
      Object.keys(value).forEach(function (k) {
        flatten(prefix + '[' + k + ']', value[k], out);
      });
    } else {
      out.append(prefix, String(value));
    }
    return out;
  }

  function api(path, form) {
    form.append('key', KEY);
    // credentials omitted: nothing of other sites on this host rides along.
    return fetch(path, { method: 'POST', body: form, credentials: 'omit' }).then(
      function (res) {
        return res.json().then(
          function (json) {
            if (res.ok) return json;
            var e = (json && json.error) || {};
            var error = { type: e.type || 'api_error', code: e.code, message: e.message || 'The payment gateway refused the card.' };
            if (e.decline_code) error.decline_code = e.decline_code;
            if (e.param) error.param = e.param;
            if (e.setup_intent) error.setup_intent = e.setup_intent;
            return { error: error };
          },
          function () {
            return { error: { type: 'api_error', message: 'The payment gateway sent an answer we could not read.' } };
          },
        );
      },
      function () {
        return {
          error: { type: 'api_connection_error', message: 'We could not reach the payment gateway. Check your connection and try again.' },
        };
      },
    );
  }

  /** The PaymentMethod of the typed card (the number goes to this origin only), or { error }. */
  function createPaymentMethod(billingDetails) {
    var p = problem(true);
    if (p) return Promise.resolve({ error: { type: 'validation_error', code: p.code, message: p.message } });
    var e = readExpiry();
    var form = new URLSearchParams();
    form.append('type', 'card');
    form.append('card[number]', digitsOf(number.value));
    form.append('card[exp_month]', String(e.month));
    form.append('card[exp_year]', String(e.year));
    form.append('card[cvc]', digitsOf(cvc.value));
    flatten('billing_details', billingDetails, form);
    return api('/v1/payment_methods', form);
  }

  function confirmCardSetup(clientSecret, billingDetails) {
    return createPaymentMethod(billingDetails).then(function (pm) {
      if (pm.error) return pm;
      var id = clientSecret.split('_secret_')[0];
      var confirm = new URLSearchParams();
      confirm.append('payment_method', pm.id);
      confirm.append('client_secret', clientSecret);
      // The parent (Stripe.js's stand-in) shows the challenge if the card must authenticate.
      confirm.append('use_stripe_sdk', 'true');
      return api('/v1/setup_intents/' + encodeURIComponent(id) + '/confirm', confirm).then(function (si) {
        return si.error ? si : { setupIntent: si };
      });
    });
  }

  /** What the parent may ask for: the card saved (a setup intent confirmed), or only its PaymentMethod. */
  var REQUESTS = {
    confirmCardSetup: function (data) {
      return confirmCardSetup(String(data.clientSecret), data.billingDetails);
    },
    createPaymentMethod: function (data) {
      return createPaymentMethod(data.billingDetails).then(function (pm) {
        return pm.error ? pm : { paymentMethod: pm };
      });
    },
  };

  // --- the parent page's requests ------------------------------------------

  var busy = false;
  window.addEventListener('message', function (event) {
    if (event.source !== window.parent || event.origin !== PARENT) return;
    var data = event.data;
    if (!data || data.source !== SOURCE) return;
    if (data.type === 'focus') {
      var p = problem(false);
      (p ? fieldFor(p.code) : number).focus();
    } else if (data.type === 'clear') {
      number.value = expiry.value = cvc.value = '';
      changed();
    } else if (Object.prototype.hasOwnProperty.call(REQUESTS, data.type)) {
      var answer = function (result) {
        busy = false;
        send('result', { requestId: data.requestId, result: result });
      };
      if (busy) {
        send('result', {
          requestId: data.requestId,
          result: {
            error: { type: 'invalid_request_error', code: 'confirmation_in_progress', message: 'A confirmation is already in progress.' },
          },
        });
        return;
      }
      busy = true;
      REQUESTS[data.type](data).then(answer, function () {
        answer({ error: { type: 'api_error', message: 'The card could not be checked. Please try again.' } });
      });
    }
  });

  // The parent sizes the iframe to our content.
  var lastHeight = 0;
  function height() {
    return document.documentElement.scrollHeight;
  }
  if (window.ResizeObserver) {
    new ResizeObserver(function () {
      var h = height();
      if (h !== lastHeight) {
        lastHeight = h;
        send('resize', { height: h });
      }
    }).observe(document.documentElement);
  }
  lastHeight = height();
  send('ready', { height: lastHeight });
})();
