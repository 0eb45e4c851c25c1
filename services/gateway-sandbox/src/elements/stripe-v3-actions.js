// The second half of the Stripe.js stand-in (served after stripe-v3.js as one
// script at GET /v3/): payments and next actions. confirmCardPayment,
// handleNextAction / handleCardAction and createPaymentMethod, and 3-D Secure:
// a confirmation that answers requires_action shows the gateway's challenge
// page in a frame over the page (or, with a return_url, goes there), then
// reads the intent again and resolves { paymentIntent } / { setupIntent } or
// { error }, as Stripe.js does.
(function () {
  'use strict';

  var Stripe = window.Stripe;
  var GATEWAY = new URL(document.currentScript.src).origin;
  var SOURCE_3DS = 'vault-3ds';
  var SECRET = /^(pi|seti)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+$/;

  function integrationError(message) {
    var err = new Error(message);
    err.name = 'IntegrationError';
    return err;
  }

  /** A mounted card Element of stripe-v3.js (it answers requests from its iframe). */
  function isCardElement(value) {
    return Boolean(value && typeof value.request === 'function' && value.frame);
  }

  /** One call to the gateway's API with the publishable key; { error } for any refusal, as Stripe.js gives it. */
  function api(key, method, path, params) {
    var form = new URLSearchParams();
    Object.keys(params).forEach(function (k) {
      if (params[k] !== undefined && params[k] !== null) form.append(k, String(params[k]));
    });
    form.append('key', key);
    var url = GATEWAY + path + (method === 'GET' ? '?' + form.toString() : '');
    var init = { method: method, credentials: 'omit' };
    if (method !== 'GET') init.body = form;
    return fetch(url, init).then(
      function (res) {
        return res.json().then(
          function (json) {
            return res.ok
              ? json
              : { error: (json && json.error) || { type: 'api_error', message: 'The payment gateway refused the request.' } };
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

  function intentPath(clientSecret) {
    var id = clientSecret.split('_secret_')[0];
    return (id.indexOf('seti_') === 0 ? '/v1/setup_intents/' : '/v1/payment_intents/') + encodeURIComponent(id);
  }

  function kindOf(clientSecret) {
    return clientSecret.indexOf('seti_') === 0 ? 'setupIntent' : 'paymentIntent';
  }

  /** An intent as Stripe.js resolves it: an intent whose attempt failed is its last error, carrying the intent. */
  function result(kind, intent) {
    if (intent.error) return intent;
    var lastError = kind === 'paymentIntent' ? intent.last_payment_error : intent.last_setup_error;
    if (intent.status === 'requires_payment_method' && lastError) {
      var error = Object.assign({}, lastError);
      error[kind === 'paymentIntent' ? 'payment_intent' : 'setup_intent'] = intent;
      return { error: error };
    }
    var out = {};
    out[kind] = intent;
    return out;
  }

  /** The challenge page in a frame over the page, until it says the authentication is over. */
  function showChallenge(stripeJsUrl) {
    return new Promise(function (resolve) {
      // Always this gateway's own page, whatever host the API was reached by.
      var target = new URL(stripeJsUrl, GATEWAY);
      var overlay = document.createElement('div');
      overlay.setAttribute('role', 'dialog');
      overlay.setAttribute('aria-modal', 'true');
      overlay.setAttribute('aria-label', 'Authenticate your card');
      // Styles through the CSSOM, so the page's CSP needs no inline styles.
      Object.assign(overlay.style, {
        position: 'fixed',
        inset: '0',
        background: 'rgba(20, 22, 30, 0.6)',
        display: 'flex',
        alignItems: 'center',
        justifyContent: 'center',
        zIndex: '2147483647',
      });
      var frame = document.createElement('iframe');
      frame.title = '3D Secure authentication';
      frame.src = GATEWAY + target.pathname + target.search;
      Object.assign(frame.style, { border: '0', background: '#fff', width: 'min(32rem, 100vw)', height: 'min(28rem, 100vh)' });
      overlay.appendChild(frame);
      function onMessage(event) {
        if (event.origin !== GATEWAY || event.source !== frame.contentWindow) return;
        if (!event.data || event.data.source !== SOURCE_3DS || event.data.type !== 'authentication_finished') return;
        window.removeEventListener('message', onMessage);
        overlay.remove();
        resolve();
      }
      window.addEventListener('message', onMessage);
      document.body.appendChild(overlay);
      frame.focus();
    });
  }

  /** Does the intent's next action, if any, then reads it again. */
  function handleAction(stripe, clientSecret, intent) {
    var action = intent.status === 'requires_action' && intent.next_action;
    if (!action) return Promise.resolve(intent);
    if (action.type === 'redirect_to_url') {
      // The page is left for the challenge, which sends the customer back to the return_url.
      window.location.assign(action.redirect_to_url.url);
      return new Promise(function () {});
    }
    if (action.type !== 'use_stripe_sdk') return Promise.resolve(intent);
    return showChallenge(action.use_stripe_sdk.stripe_js).then(function () {
      return api(stripe.key, 'GET', intentPath(clientSecret), { client_secret: clientSecret });
    });
  }

  function checkSecret(clientSecret, kind, name) {
    if (typeof clientSecret !== 'string' || !SECRET.test(clientSecret) || (kind && kindOf(clientSecret) !== kind)) {
      throw integrationError(
        name + '(): the first argument must be a ' + (kind === 'setupIntent' ? 'setup' : 'payment') + ' intent client secret.',
      );
    }
  }

  /** { paymentMethod } or { error }: a card Element's details become a PaymentMethod inside its iframe. */
  Stripe.prototype.createPaymentMethod = function (data) {
    if (!data || data.type !== 'card' || !isCardElement(data.card)) {
      return Promise.reject(integrationError('createPaymentMethod(): type "card" and a mounted card Element are required.'));
    }
    return data.card.request('createPaymentMethod', { billingDetails: data.billing_details || null });
  };

  /**
   * Confirms a PaymentIntent on-session with a PaymentMethod id, a card Element
   * ({ card, billing_details }), or the intent's own; then handles 3-D Secure.
   * `options.handleActions: false` leaves requires_action to the page.
   */
  Stripe.prototype.confirmCardPayment = function (clientSecret, data, options) {
    try {
      checkSecret(clientSecret, 'paymentIntent', 'confirmCardPayment');
    } catch (err) {
      return Promise.reject(err);
    }
    var stripe = this;
    var method = data && data.payment_method;
    var returnUrl = data && data.return_url;
    var paymentMethod;
    if (method && typeof method === 'object') {
      if (!isCardElement(method.card))
        return Promise.reject(integrationError('confirmCardPayment(): payment_method.card must be a mounted card Element.'));
      paymentMethod = method.card.request('createPaymentMethod', { billingDetails: method.billing_details || null }).then(function (r) {
        if (r.error) throw r;
        return r.paymentMethod.id;
      });
    } else {
      paymentMethod = Promise.resolve(typeof method === 'string' ? method : undefined);
    }
    return paymentMethod
      .then(function (pmId) {
        var params = { client_secret: clientSecret, payment_method: pmId };
        if (returnUrl) params.return_url = returnUrl;
        else params.use_stripe_sdk = 'true';
        return api(stripe.key, 'POST', intentPath(clientSecret) + '/confirm', params);
      })
      .then(function (intent) {
        if (intent.error || (options && options.handleActions === false)) return result('paymentIntent', intent);
        return handleAction(stripe, clientSecret, intent).then(function (after) {
          return result('paymentIntent', after);
        });
      })
      .catch(function (failure) {
        if (failure && failure.error) return failure;
        throw failure;
      });
  };

  /** The next action of an intent confirmed elsewhere (by the server, on-session). */
  Stripe.prototype.handleNextAction = function (args) {
    var clientSecret = args && args.clientSecret;
    try {
      checkSecret(clientSecret, undefined, 'handleNextAction');
    } catch (err) {
      return Promise.reject(err);
    }
    var stripe = this;
    var kind = kindOf(clientSecret);
    return api(stripe.key, 'GET', intentPath(clientSecret), { client_secret: clientSecret }).then(function (intent) {
      if (intent.error) return intent;
      return handleAction(stripe, clientSecret, intent).then(function (after) {
        return result(kind, after);
      });
    });
  };

  Stripe.prototype.handleCardAction = function (clientSecret) {
    return this.handleNextAction({ clientSecret: clientSecret });
  };

  // confirmCardSetup (stripe-v3.js) with 3-D Secure: a card that must authenticate when saved.
  var confirmCardSetup = Stripe.prototype.confirmCardSetup;
  Stripe.prototype.confirmCardSetup = function (clientSecret, data) {
    var stripe = this;
    return confirmCardSetup.call(this, clientSecret, data).then(function (r) {
      if (!r.setupIntent || r.setupIntent.status !== 'requires_action') return r;
      return handleAction(stripe, clientSecret, r.setupIntent).then(function (after) {
        return result('setupIntent', after);
      });
    });
  };
})();
