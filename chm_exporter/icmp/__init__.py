"""ICMP echo transport: the packets (:mod:`.packet`) and the process's shared sockets
(:mod:`.echo`)."""
