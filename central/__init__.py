"""Reference implementation of the central e-seal platform (电子印章公共服务平台)."""
