"""A site's tickets: the kinds it sells, and the passes that let people in (by face or by QR ticket)."""
