// The 3-D Secure test page's script: once the challenge is over, tells the
// page that framed it (the card form, whose origin is data-parent-origin) so
// Stripe.js's stand-in can close the frame and read the intent again.
(function () {
  'use strict';
  var data = document.body.dataset;
  if (!data.outcome || window.parent === window) return;
  window.parent.postMessage(
    { source: 'vault-3ds', type: 'authentication_finished', authentication: data.authentication, outcome: data.outcome },
    data.parentOrigin,
  );
})();
