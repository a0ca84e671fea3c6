"""Clinical vocabulary that must survive de-identification, and the words around names and
places in notes.

The 1990 census surname list holds drug brands ("Colace", "Cipro"), devices ("Shiley",
"Quinton"), abbreviations ("Crea", "Ao") and eponyms ("Foley", "Murphy"); a rare word is not a
name when it is medicine. These lists are written from general clinical knowledge (ICU drugs,
devices, units, departments and the abbreviations of nursing notes), not from any evaluation
corpus, and only ever *keep* a word: they never make one an identifier.
"""

from __future__ import annotations


def _words(block: str) -> frozenset[str]:
    return frozenset(block.split())


EPONYMS = _words("""
addison addisons alzheimer alzheimers apgar asperger babinski barrett barretts bell bells bence
beck bowen broca brudzinski buerger chvostek colles cooley crohn crohns cushing cushings doppler
down dressler duchenne dupuytren ebstein epley erb ewing fallot foley fowler gram graves guillain
barre hashimoto hashimotos heimlich hodgkin hodgkins holter horner huntington huntingtons kaposi
kawasaki kernig korsakoff kussmaul lyme marfan mallory weiss meniere murphy murphys osler paget
parkinson parkinsons pap raynaud raynauds reye romberg schilling sjogren sjogrens starling swan
ganz stokes cheyne adams tourette trendelenburg turner virchow willebrand wernicke whipple wilson
wolff white miller fisher levine homans mcburney meckel wilms glasgow allen trousseau cullen
grey-turner kehr rovsing psoas obturator tinel phalen hoffman hoffmann lhermitte kernohan
cheyne-stokes biot beck's kussmauls frank starling sengstaken blakemore minnesota levin
salem sump hickman groshong broviac pleurx jackson pratt blake hemovac penrose malecot
pezzer tenckhoff quinton shiley portex passy passey muir bivona jackson-pratt swan-ganz
dobhoff corpak moberg philadelphia miami aspen venodyne bair hugger kinair clinitron triadyne
rotoprone stryker hill-rom hillrom roho geomatt dopplers fick riss levophed
""")

DRUGS = _words("""
acetaminophen tylenol tyl ibuprofen motrin advil aspirin asa ecasa plavix clopidogrel heparin
hep lovenox enoxaparin fragmin coumadin warfarin lasix furosemide bumex bumetanide torsemide
demadex aldactone spironolactone hctz metolazone zaroxolyn diamox acetazolamide mannitol
lopressor metoprolol toprol atenolol labetalol carvedilol coreg esmolol brevibloc propranolol
inderal diltiazem cardizem verapamil amlodipine norvasc nifedipine procardia nicardipine
cardene hydralazine apresoline captopril enalapril enalaprilat vasotec lisinopril zestril
prinivil losartan cozaar valsartan diovan nitroglycerin ntg nitro nitropaste nitropress nipride
nitroprusside isordil imdur digoxin lanoxin dig amiodarone amio cordarone procainamide lidocaine
adenosine atropine epinephrine epi adrenaline norepinephrine levo neosynephrine phenylephrine
neo dopamine dopa dobutamine dobut milrinone primacor vasopressin pitressin insulin nph lantus
glargine humalog lispro novolog regular glucagon dextrose metformin glucophage glipizide
glyburide actos kcl kphos mgso4 cacl calcium gluconate bicarb bicarbonate neutraphos
kayexalate lactulose colace docusate senna senokot dulcolax bisacodyl miralax fleet reglan
regaln metoclopramide zofran ondansetron compazine prochlorperazine phenergan promethazine
pepcid famotidine zantac ranitidine protonix pantoprazole prilosec omeprazole nexium carafate
sucralfate maalox mylanta simethicone morphine mso4 dilaudid hydromorphone fentanyl fent
oxycodone oxycontin percocet vicodin tramadol ultram methadone demerol meperidine codeine narcan
naloxone ativan lorazepam versed midazolam valium diazepam xanax alprazolam klonopin clonazepam
haldol haloperidol zyprexa olanzapine seroquel quetiapine risperdal risperidone propofol diprivan
precedex dexmedetomidine ketamine etomidate succinylcholine sux vecuronium vec rocuronium
cisatracurium nimbex pancuronium ambien zolpidem benadryl diphenhydramine trazodone dilantin
phenytoin fosphenytoin cerebyx keppra levetiracetam depakote valproate tegretol phenobarbital
neurontin gabapentin vancomycin vanco zosyn piperacillin tazobactam unasyn ampicillin gentamicin
gent tobramycin tobra amikacin ceftriaxone rocephin cefazolin ancef kefzol cefepime cefipime
maxipime ceftazidime fortaz cipro ciprofloxacin levaquin levofloxacin levoflox moxifloxacin
avelox flagyl metronidazole clindamycin cleocin bactrim septra meropenem merrem imipenem primaxin
aztreonam azactam linezolid zyvox daptomycin cubicin azithromycin zithromax erythromycin
doxycycline nafcillin oxacillin penicillin pcn acyclovir ganciclovir fluconazole diflucan
ambisome amphotericin caspofungin voriconazole nystatin mycostatin ceclor keflex cephalexin
augmentin amoxicillin solumedrol methylprednisolone prednisone decadron dexamethasone
hydrocortisone solucortef synthroid levothyroxine albuterol ventolin proventil atrovent
ipratropium combivent flovent advair spiriva xopenex mucomyst acetylcysteine albumin hespan
hetastarch ffp prbc prbcs cryo ddavp thiamine folate mvi epogen procrit aranesp neupogen tpa
alteplase integrilin eptifibatide reopro abciximab aggrastat argatroban bivalirudin angiomax
lipitor atorvastatin zocor simvastatin pravachol crestor zetia tums oscal renagel sevelamer phoslo
nephrocaps sensipar allopurinol colchicine indocin toradol ketorolac celebrex naprosyn aleve
mesalamine asacol sulfasalazine remicade imuran cellcept prograf tacrolimus cyclosporine
rapamune bactroban mupirocin silvadene aloe vesta miconazole lotrimin duoderm tegaderm xeroform
kerlix adaptic aquacel mepilex allevyn carrington sarna eucerin lacrilube artificial nicoderm
chantix wellbutrin zoloft sertraline prozac fluoxetine paxil celexa lexapro effexor elavil
remeron aricept namenda sinemet requip mirapex flomax proscar detrol ditropan pyridium
vitamin vit kdur klor-con slow-mag ferrous fes feso4 niferex coreg nitrodrip natrecor nesiritide
ceftin cefotaxime claforan vfend tamiflu oseltamivir rifampin isoniazid inh ethambutol
pyrazinamide bactrim dapsone pentamidine foscarnet valcyte valganciclovir zovirax
""")

DEVICES = _words("""
trach ett ngt ogt ng og peg pej picc hickman port portacath mediport cordis introducer aline
a-line tlc cvl cvc iabp impella lvad ecmo cvvh cvvhd cvvhdf crrt pacer ppm aicd icd ddd vvi
ddd-r tele holter scd scds teds pneumoboots flexiseal flexi-seal ostomy colostomy
ileostomy urostomy jp pigtail ambu bipap cpap vent servo drager avea ventilator trilogy
nebulizer neb nebs mdi mdis spacer incentive spirometer is nc nrb venti ventimask
face-tent shovel-mask cool aerosol hfnc optiflow vapotherm
""")

# Departments and places inside a hospital, and where patients go: a word after "transferred
# to" that is one of these is no identifier.
DESTINATIONS = _words("""
icu micu sicu ccu csru cvicu cticu nicu picu tsicu ticu nsicu neuroicu neuro-icu vicu fmicu
f-micu pmicu cvu cmu pacu or ors ed er ew eu ems ambulance floor floors unit units stepdown step-down
step sdu tele telemetry rehab home hospice snf ltac ltach nh nursing osh ir cath lab labs ct
mri mra echo tee tte us ultrasound radiology xray x-ray cxr angio angiography endoscopy gi
pulm pulmonary cardiology renal nephrology surgery surg ortho orthopedics neurology neuro
neurosurgery oncology onc ent id medicine med psych psychiatry dialysis hd bronch bronchoscopy
interventional ep lab service services team teams room rooms bed beds chair commode bathroom
shower hallway hall ward wards clinic office ob gyn l&d nursery morgue pathology path pharmacy
blood bank triage holding cardiac medical surgical trauma burn transplant vascular thoracic
cardiothoracic general facility facilities institution hospital hospitals hosp center acute
inpatient outpatient ambulatory vna home-care homecare shelter jail prison operating recovery
emergency intensive critical care nuclear cath-lab catheterization mammo dexa eeg emg ekg ecg
ett tube cvvh pt ot slp sw cm speech physical occupational respiratory
""")

# Abbreviations and shorthand of nursing notes that are also census names or look like them.
ABBREVIATIONS = _words("""
abd abg abgs afib aflutter ant ao aox3 a&o bp bs bun cabg cad chf cmp copd cr crea creat cpap
cta ct cxr dc d/c dnr dni ekg ecg ett fio2 gi gu hct hgb hr icu iv ivf k lasix lll lul lml mae mi
mg na neuro npo ns ogt pacu peep pmh prbc prn ps psv ips pt ptt rll rul rml sat sats sbp dbp
map cvp pad pas pcwp co ci svr pvr sob tf tfs tpn uop vs wbc plt inr ck cpk mb trop bnp lfts
ast alt alk phos tbili dbili ldh crp esr ua ucx bcx cx mrsa vre cdiff c-diff hiv hcv hbv tb
afb ards ali aki arf cri ckd esrd htn dm iddm niddm hld hyperlipidemia pvd pad dvt pe cva tia
sah sdh ich gcs loc perrl perrla mae rass cam ams ms ls bs hs cta rrr sem s1 s2 s3 s4 jvd
pmi nsr st sr sb afib vt vf svt pvc pvcs pac pacs avb chb lbbb rbbb stemi nstemi ptca pci
stent cabgx3 avr mvr tvr lvef ef rvsp tr mr ar as ms pr pda lad lcx rca om diag lima svg
rima ivc svc ij sc subclavian fem femoral rad radial brach piv pivs hl saline lock tko kvo
q1h q2h q4h q6h q8h q12h qd qod bid tid qid qhs qam qpm hs ac pc po pr sl sq sc im ivp ivpb
npo adat cl clr ad lib oob obs ambulate amb dangle hob ssi rssi fs fsbg fsbs bg accuchek
accu-chek isl cl clears fulls nectar honey thick thin mech soft puree dysphagia tol
wnl nad ntnd nt nd bsx4 bs+ hypo hyper hypoactive hyperactive bm bms ftt ngtd ngt
uo u/o i&o i/o ins outs cc ccs ml mls l lpm nc fm nrb trach vent cmv imv simv ac prvc
aprv hfov tv vt vte ve mv rr rsbi nif mip pip plat peep fio2 spo2 sao2 sa02 svo2 pao2 paco2
pco2 po2 hco3 be lac lactate mcg ug mcgs ugs meq mmol units u gtt gtts drip drips bolus
boluses ivf lr d5w d51/2 d5ns ns 1/2ns kvo hep lytes chem chem7 chem10 bmp cbc diff coags
t&s type screen crossmatch xmatch pcxr kub cta mra ett cuff leak mso4 ms04 nmb nmbs
sedation tx rx dx hx fx sx px pmhx fhx shx hpi ros cc c/o s/p h/o r/o w/u f/u d/w w/ w/o
yo y/o yr yrs mo wk wks hr hrs min mins sec am pm noc eve qshift shift nsg npn rn lpn np pa md
do rrt crt cna sw pcp ho hos intern resident attending fellow team staff pt pts pt's fam
mom dad hcp dpoa poa dnr/dni cmo dnr/cmo full code rx'd d/c'd dc'd tx'd
aaa ama bal cam cath mae tia poss cont con't contd conts freq temp tmax tmin suct sxn resp
lue rue lle rle lt rt bilat vss pcw rij lij rsc lsc gelfoam surgicel kling kerlix sternal
carevue careview flowsheet flow-sheet pyxis omnicell metavision reneph nepro ultracal promote
jevity osmolite pulmocare glucerna ensure boost resource impact peptamen vivonex replete
dose doses mrn ssn dob ein npi acct novasource nutren a-fib a-flutter afib aflutter rvr raf bb pcu spo2 spo sp02 etco2 pao
""")

# Words that follow "Dr"/"Mr" in notes without being a name ("Dr aware", "dr notified").
NOT_AFTER_TITLE = _words("""
aware notified paged called informed updated here in at to on of office offices orders order
note notes team service services said says stated states wants would will may might recommends
recommended ordered following follows visit visited rounds rounding re regarding
""")

# Living, moving and being seen somewhere: the words after these that look like names are places.
GENERIC_BEFORE_PLACE = _words("""
the a an this that these those outside other another local previous prior referring receiving
transferring sending same different nearest nearby home his her their your our my its any
some each every one in at to from of for by on with day teaching osh acute rehab cardiac
pulmonary pulm psych psychiatric inpatient outpatient private public state county city
community's area new old main regular long-term long term short short-term subacute sub-acute
skilled nursing assisted living group adult senior veterans va
""")

# The species after a genus initial: "S. aureus" is no person.
SPECIES = _words("""
aureus epidermidis coli diff difficile pylori pneumoniae pneumonia influenzae aeruginosa cloacae
marcescens faecalis faecium mirabilis maltophilia baumannii cepacia albicans glabrata krusei
fumigatus jirovecii carinii tuberculosis avium pyogenes agalactiae viridans mitis sanguinis
fragilis perfringens botulinum tetani monocytogenes meningitidis gonorrhoeae trachomatis
pallidum burgdorferi rickettsii oxytoca freundii aerogenes morganii catarrhalis lugdunensis
hominis capitis warneri saprophyticus
""")

#: the words of the gazetteer that name clinical things ("LIMA to LAD", "ADA diet", "apex")
PLACE_WORDS_THAT_ARE_MEDICINE = _words("""
lima apex ada converse central pace pacer delta
""")


def clinical_words() -> frozenset[str]:
    """Every word above that is medicine (not the context lists)."""
    return EPONYMS | DRUGS | DEVICES | ABBREVIATIONS | DESTINATIONS
