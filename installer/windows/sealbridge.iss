; Inno Setup 6 script for SealBridge on Windows x64: a per-user install (no administrator rights).
; Build the PyInstaller folder first (README.md), then from the repository root:
;   iscc /DAppVersion=0.1.0 installer\windows\sealbridge.iss
; Output: dist\windows\sealbridge-setup-<version>.exe
;
; What it installs, all for the current user only:
;   %LOCALAPPDATA%\Programs\SealBridge\   the PyInstaller folder (three programs + libraries)
;   ...\native-messaging\*.json           host manifests, written at install with the real install path
;   HKCU\Software\{Google\Chrome,Microsoft\Edge,Chromium,Mozilla}\NativeMessagingHosts\cn.sealbridge.agent
;                                         (default value = path of the manifest)
;   HKCU\Software\Microsoft\Windows\CurrentVersion\Run  "SealBridgeAgent" (start the agent at login)

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "SealBridge"
#define HostName "cn.sealbridge.agent"
; agent/known_extensions.py CHROMIUM_EXTENSION_ID (pinned by the extension manifest's "key")
#define ChromiumExtensionId "bcmacoahbnnfcbanjcodgfddjeoejknn"
; extension/manifest.json browser_specific_settings.gecko.id
#define FirefoxExtensionId "sealbridge@sealbridge.dev"
#define BuildDir "..\..\dist\windows\SealBridge"

[Setup]
AppId={{6F1B2C9E-4E7A-4C55-9B8B-5EA1B7D0C0A1}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=SealBridge
AppPublisherURL=https://sealbridge.dev
DefaultDirName={localappdata}\Programs\{#AppName}
DisableDirPage=yes
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist\windows
OutputBaseFilename=sealbridge-setup-{#AppVersion}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
UninstallDisplayIcon={app}\sealbridge-agent.exe
; An upgrade closes the running agent (Restart Manager) and starts it again afterwards.
CloseApplications=yes
RestartApplications=no

[Languages]
Name: "en"; MessagesFile: "compiler:Default.isl"
; Inno Setup ships Chinese Simplified as an unofficial translation: download ChineseSimplified.isl into
; the compiler's Languages\Unofficial folder to enable this line (README.md).
; Name: "zh"; MessagesFile: "compiler:Languages\Unofficial\ChineseSimplified.isl"

[Files]
Source: "{#BuildDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Registry]
; Native messaging: each browser reads the default value of this key = full path of the host manifest.
Root: HKCU; Subkey: "Software\Google\Chrome\NativeMessagingHosts\{#HostName}"; ValueType: string; ValueName: ""; ValueData: "{app}\native-messaging\{#HostName}.chrome.json"; Flags: uninsdeletekey
Root: HKCU; Subkey: "Software\Microsoft\Edge\NativeMessagingHosts\{#HostName}"; ValueType: string; ValueName: ""; ValueData: "{app}\native-messaging\{#HostName}.chrome.json"; Flags: uninsdeletekey
Root: HKCU; Subkey: "Software\Chromium\NativeMessagingHosts\{#HostName}"; ValueType: string; ValueName: ""; ValueData: "{app}\native-messaging\{#HostName}.chrome.json"; Flags: uninsdeletekey
Root: HKCU; Subkey: "Software\Mozilla\NativeMessagingHosts\{#HostName}"; ValueType: string; ValueName: ""; ValueData: "{app}\native-messaging\{#HostName}.firefox.json"; Flags: uninsdeletekey
; Per-user autostart of the (windowless) agent.
Root: HKCU; Subkey: "Software\Microsoft\Windows\CurrentVersion\Run"; ValueType: string; ValueName: "SealBridgeAgent"; ValueData: """{app}\sealbridge-agent.exe"""; Flags: uninsdeletevalue

[Run]
Filename: "{app}\sealbridge-agent.exe"; Description: "Start the SealBridge agent now"; Flags: nowait postinstall

[UninstallRun]
; Stop this user's agent so its files can be removed (a per-user uninstaller cannot end other users' processes).
Filename: "{sys}\taskkill.exe"; Parameters: "/F /IM sealbridge-agent.exe"; Flags: runhidden; RunOnceId: "StopAgent"

[UninstallDelete]
; Written by the [Code] section, so not in the uninstall log. User data (%LOCALAPPDATA%\sealbridge: audit log,
; pairing secret, soft tokens) is never removed.
Type: filesandordirs; Name: "{app}\native-messaging"

[Code]
{ A JSON string literal. Everything outside printable ASCII is written as \uXXXX (Pascal strings are UTF-16,
  as JSON escapes are), so the file is plain ASCII even when the install path holds a Chinese user name,
  and SaveStringToFile's ANSI code page cannot garble it. }
function JsonString(const S: String): String;
var
  I: Integer;
  C: Char;
begin
  Result := '"';
  for I := 1 to Length(S) do
  begin
    C := S[I];
    if (C = '\') or (C = '"') then
      Result := Result + '\' + C
    else if (Ord(C) < 32) or (Ord(C) > 126) then
      Result := Result + '\u' + Format('%.4x', [Ord(C)])
    else
      Result := Result + C;
  end;
  Result := Result + '"';
end;

function HostManifest(const AllowKey, AllowValue: String): String;
begin
  Result :=
    '{' + #13#10 +
    '  "name": "{#HostName}",' + #13#10 +
    '  "description": "SealBridge agent pairing",' + #13#10 +
    '  "path": ' + JsonString(ExpandConstant('{app}\sealbridge-native-host.exe')) + ',' + #13#10 +
    '  "type": "stdio",' + #13#10 +
    '  "' + AllowKey + '": [' + JsonString(AllowValue) + ']' + #13#10 +
    '}' + #13#10;
end;

procedure WriteManifest(const FileName, Content: String);
begin
  if not SaveStringToFile(FileName, Content, False) then
    RaiseException('Cannot write ' + FileName);
end;

procedure CurStepChanged(CurStep: TSetupStep);
var
  Dir: String;
begin
  if CurStep = ssPostInstall then
  begin
    Dir := ExpandConstant('{app}\native-messaging');
    ForceDirectories(Dir);
    { Chrome, Edge and Chromium: allowed_origins with the pinned extension origin (trailing slash required). }
    WriteManifest(Dir + '\{#HostName}.chrome.json',
      HostManifest('allowed_origins', 'chrome-extension://{#ChromiumExtensionId}/'));
    { Firefox: allowed_extensions with the add-on id. }
    WriteManifest(Dir + '\{#HostName}.firefox.json',
      HostManifest('allowed_extensions', '{#FirefoxExtensionId}'));
  end;
end;
