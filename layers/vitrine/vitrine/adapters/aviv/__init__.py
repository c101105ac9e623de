"""AVIV Classifieds Management V4 over HTTP (requests): the production ``AvivPort``.

``config`` says where AVIV is and how patient to be; ``transport`` sends one request with AVIV's
headers, bounded retries and time limits; ``answers`` turns AVIV's answers into vitrine's typed
errors; ``oauth`` fetches the OAuth2 client-credentials token; ``paging`` follows ``nextToken``;
``client`` is the ``AvivClient`` the services use, and ``wiring`` builds it from the settings.
"""
