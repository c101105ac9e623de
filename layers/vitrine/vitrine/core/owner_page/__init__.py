"""The owner status page: what an owner sees of their listings (``view``), in HTML (``html``),
worded in English or French (``phrases``). Pure: the stored state and the clock come in."""
