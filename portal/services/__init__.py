"""The portal's domain: storing reports, follow-up, files. No Flask imports here: the views call
these services with what they need, so the rules can be tested without a web request."""
