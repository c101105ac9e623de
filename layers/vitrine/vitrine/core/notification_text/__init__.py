"""What notifications say to people, in English and French: the words (``phrases``) and the e-mail.

``email`` renders a notification body as its SNS subject and plain-text e-mail.
"""
