"""The one HTTP client that talks to Aircall, and its Dagster resource.

It owns everything the real API makes hard (``../shared/docs/aircall-api.md``), one module per
step of a read, from the table down to the wire:

* ``windows.py``: every record dated in ``[start, end)`` once, with each resource's own
  ``from``/``to`` semantics; a window over the positional 10,000-record cap is split into parts
  sized from the total the API reports;
* ``pages.py``: one list page by page along ``next_page_link``, never past the cap;
* ``client.py``: one logical request (``AircallClient``): a slot of the company's budget
  shared by every process (``aircall_assets/budget.py``), the send, retries with backoff and
  jitter on transient failures;
* ``rate_limit.py``: 429s, waited out on ``X-AircallApi-Reset`` by every process;
* ``replies.py``: what an answer means: a result, a final error, a lost write, or a retry;
* ``transport.py``: the HTTP wire (urllib3), one send;
* ``errors.py``: the errors callers tell apart, which never show a secret;
* ``base_url.py``, ``stats.py``, ``resource.py``: the accepted base URLs, what a client
  spent, and the Dagster resource that makes clients.

Nothing is re-exported here: import each name from the module that defines it.
"""
