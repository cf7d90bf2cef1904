"""A site's visitors: the kinds of ticket it sells, the passes that let people in (by face or by QR ticket), and
how many are inside."""
