"""Route modules; each is thin: validate, authorize, call one core function, shape the answer."""
