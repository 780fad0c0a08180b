"""Pay with your face: challenge-response checkout sessions with liveness, fused 1:1 / 1:N decisions.

``challenge``: random one-time challenges; ``motion``: what a face did over the frames (head turn, blink,
moving closer) from landmarks; ``frames``: frames or a short clip into timed pictures; ``fusion``: several
frames into one match decision at the checkout operating point; ``policy``: limits from the environment;
``service``: sessions, rate limits, lock-outs and audited decisions; ``hooks``: erasure, export, retention.
"""
