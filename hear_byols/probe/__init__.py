"""A labelled corpus -> speaker-independent scores: SERAB's classifier protocol and an honest default."""
