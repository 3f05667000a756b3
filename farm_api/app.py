"""Farm API routes: the Salesforce-like source of truth and the toxic stream."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import orjson
from chalice.app import Chalice, Request, Response
from chalicelib.auth import is_authorized
from chalicelib.catalogue import Catalogue
from chalicelib.chaos import stream_page
from chalicelib.config import FarmConfig
from chalicelib.errors import FarmError, error_body, invalid_session
from chalicelib.faults import FaultInjector
from chalicelib.oauth import OAuthError, presented_credentials
from chalicelib.params import QueryParams, parse_batch_ids, parse_stream_query
from chalicelib.salesforce_access import DATA_PATH, DATA_ROOT, TOKEN_PATH, SalesforceAccess
from chalicelib.salesforce_org import SalesforceOrg, api_version, versions
from chalicelib.soql import malformed_query

APP_NAME = "aos-farm"
ROUTES = (
    "GET /api/source/salesforce/invoice/{invoice_id}",
    "GET /api/source/salesforce/invoices?ids=INV-1,INV-2",
    "GET /api/stream?chaos=true&cursor=0&limit=100&seed=0",
    "POST /services/oauth2/token",
    "GET /services/data/",
    "GET /services/data/v59.0/query?q=SOQL",
    "GET /services/data/v59.0/query/{locator}",
    "GET /services/data/v59.0/sobjects/Invoice__c/Invoice_Number__c/{value}",
    "GET /services/data/v59.0/sobjects/Invoice__c/{id}",
)
_CHALICE_ERROR_CODES = {
    400: "BAD_REQUEST",
    405: "METHOD_NOT_ALLOWED",
    415: "UNSUPPORTED_MEDIA_TYPE",
}
_JSON = {"Content-Type": "application/json"}
_FORM = "application/x-www-form-urlencoded"

View = Callable[..., Response]


def create_app(config: FarmConfig, *, faults: FaultInjector | None = None) -> Chalice:
    """The farm as a Chalice app for `config`; `faults` defaults to the configured injector."""
    app = Chalice(app_name=APP_NAME)
    catalogue = Catalogue(config.catalogue_size)
    if faults is None:
        faults = FaultInjector(config.sot_failure_rate, config.sot_latency_ms)
    org = SalesforceOrg(catalogue, config.sf_query_page_size)
    salesforce = SalesforceAccess(config)

    @app.middleware("http")
    def guard(event: Request, get_response: Callable[[Request], Response]) -> Response:
        if event.path.startswith("/api/") and not is_authorized(
            event.headers.get("authorization"), config.api_token
        ):
            return _error(invalid_session(), {"WWW-Authenticate": "Bearer"})
        if event.path.startswith(DATA_PATH):
            try:
                if event.path.startswith(DATA_ROOT):
                    salesforce.admit(event)
                response = _salesforce_shape(get_response(event))
            except FarmError as error:
                response = _error(error, salesforce.refusal_headers(error))
            response.headers[salesforce.limit_header] = salesforce.limit_info()
            return response
        return _salesforce_shape(get_response(event))

    @app.route("/")
    @_answers_errors
    def index() -> Response:
        return _json({"service": APP_NAME, "routes": list(ROUTES)})

    @app.route("/api/source/salesforce/invoice/{invoice_id}")
    @_answers_errors
    def invoice(invoice_id: str) -> Response:
        faults.apply()
        return _json(catalogue.get(invoice_id))

    @app.route("/api/source/salesforce/invoices")
    @_answers_errors
    def invoices() -> Response:
        faults.apply()
        ids = parse_batch_ids(_query(app.current_request))
        return _json(catalogue.batch(ids))

    @app.route("/api/stream")
    @_answers_errors
    def stream() -> Response:
        query = parse_stream_query(_query(app.current_request), config)
        page = stream_page(
            query.seed, query.chaos, query.cursor, query.limit, query.rates, config.catalogue_size
        )
        return Response(body=page.decode(), headers=dict(_JSON))

    @app.route(TOKEN_PATH, methods=["POST"], content_types=[_FORM])
    def token() -> Response:
        request = app.current_request
        assert request is not None
        try:
            presented = presented_credentials(
                request.raw_body, request.headers.get("authorization")
            )
            return _json(salesforce.issue(presented, request))
        except OAuthError as error:
            return Response(body=error.body(), status_code=error.status, headers=dict(_JSON))

    @app.route(DATA_PATH)
    def data_versions() -> Response:
        return _json(versions())

    @app.route(DATA_ROOT + "/query")
    @_answers_errors
    def query(version: str) -> Response:
        sf_version = api_version(version)
        faults.apply()
        return _json(org.query(_soql(_query(app.current_request)), sf_version))

    @app.route(DATA_ROOT + "/query/{locator}")
    @_answers_errors
    def query_more(version: str, locator: str) -> Response:
        sf_version = api_version(version)
        faults.apply()
        return _json(org.query_more(locator, sf_version))

    @app.route(DATA_ROOT + "/sobjects/{sobject}/{field}/{value}")
    @_answers_errors
    def by_external_id(version: str, sobject: str, field: str, value: str) -> Response:
        sf_version = api_version(version)
        faults.apply()
        return _json(org.by_external_id(sobject, field, value, sf_version))

    @app.route(DATA_ROOT + "/sobjects/{sobject}/{record_id}")
    @_answers_errors
    def by_id(version: str, sobject: str, record_id: str) -> Response:
        sf_version = api_version(version)
        faults.apply()
        return _json(org.by_id(sobject, record_id, sf_version))

    return app


def _soql(params: QueryParams) -> str:
    values = params.get("q") or []
    if len(values) != 1 or set(params) != {"q"}:
        raise malformed_query("expected exactly one query parameter q=<SOQL>")
    return values[0]


def _answers_errors(view: View) -> View:
    @functools.wraps(view)
    def answer(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except FarmError as error:
            return _error(error)

    return answer


def _query(request: Request | None) -> QueryParams:
    params = None if request is None else request.query_params
    if not params:
        return {}
    return {name: params.getlist(name) for name in params}


def _json(value: Any) -> Response:
    return Response(body=orjson.dumps(value).decode(), headers=dict(_JSON))


def _error(error: FarmError, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body=error.body(), status_code=error.status, headers={**_JSON, **(headers or {})}
    )


def _salesforce_shape(response: Response) -> Response:
    """Rewrite Chalice's own error bodies (`{"Code", "Message"}`) into the Salesforce shape."""
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or "Code" not in body:
        return response
    code = _CHALICE_ERROR_CODES.get(response.status_code, "UNKNOWN_EXCEPTION")
    headers = {**response.headers, **_JSON}
    return Response(
        body=error_body(code, str(body.get("Message", ""))),
        status_code=response.status_code,
        headers=headers,
    )


app = create_app(FarmConfig.from_env(os.environ))
