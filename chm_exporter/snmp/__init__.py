"""SNMP transport on gufo-snmp: sessions from auths, and the concurrent walker."""
