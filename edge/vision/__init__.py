"""What a camera sees, decided: camera, motion gate, tracker, the gate's face pipeline and policy, liveness, the local
gallery.
"""
