# One packet per flow: every flow is 4,096 bytes (an atom: the CDF is 100 % at 4,096 B).
4096 100
