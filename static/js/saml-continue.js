// Hand the identity provider's answer on to this site at once (templates/auth/saml_continue.html);
// without scripts the person taps Continue.
const form = document.getElementById("saml-continue");
if (form) form.submit();
