# Inlined into postinst/prerm by build-deb.sh (at #SEALBRIDGE_USER_MANAGERS#). Best effort: act on the
# running systemd user managers of logged-in users, so an install or upgrade takes effect without logging out. Never fails the package operation.
sealbridge_user_managers() {
  action="$1"
  [ -d /run/systemd/system ] || return 0
  command -v loginctl >/dev/null 2>&1 || return 0
  for user in $(loginctl list-users --no-legend 2>/dev/null | awk '{print $2}'); do
    [ "$(id -u "$user" 2>/dev/null || echo 0)" -ge 1000 ] || continue
    case "$action" in
      start)
        timeout 15 systemctl --user -M "$user@" daemon-reload >/dev/null 2>&1 || true
        timeout 15 systemctl --user -M "$user@" restart sealbridge-agent.service >/dev/null 2>&1 || true ;;
      stop)
        timeout 15 systemctl --user -M "$user@" stop sealbridge-agent.service >/dev/null 2>&1 || true ;;
    esac
  done
  return 0
}
