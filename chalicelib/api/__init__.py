"""HTTP API: one blueprint per resource, registered on the app by ``register``."""

from __future__ import annotations


def register(app) -> None:
    from chalicelib.api import middleware
    from chalicelib.api.accounts import accounts_bp
    from chalicelib.api.anomalies import anomalies_bp
    from chalicelib.api.authorizer import auth_bp
    from chalicelib.api.chains import chains_bp
    from chalicelib.api.exports import exports_bp
    from chalicelib.api.ledger import ledger_bp
    from chalicelib.api.mailings import mailings_bp
    from chalicelib.api.members import members_bp
    from chalicelib.api.meta import meta_bp
    from chalicelib.api.news import news_bp
    from chalicelib.api.receipts import receipts_bp
    from chalicelib.api.reference import reference_bp
    from chalicelib.api.support import support_bp

    app.api.binary_types.append("application/zip")
    middleware.install(app)
    app.register_blueprint(auth_bp)
    app.register_blueprint(meta_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(members_bp)
    app.register_blueprint(ledger_bp)
    app.register_blueprint(chains_bp)
    app.register_blueprint(anomalies_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(receipts_bp)
    app.register_blueprint(reference_bp)
    app.register_blueprint(support_bp)
    app.register_blueprint(news_bp)
    app.register_blueprint(mailings_bp)
