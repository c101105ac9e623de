"""``vitrine``: the back-office command of a vitrine stack, deployed (``--stack``) or ``make local``."""

__version__ = "0.1.0"
