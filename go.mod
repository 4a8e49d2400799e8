module gannet

go 1.26.8
